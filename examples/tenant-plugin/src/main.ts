import { bootstrapGateway } from 'nest-api-gateway';

import { AppModule } from './app.module';

void bootstrapGateway(AppModule, {
  port: Number(process.env.PORT ?? 8080),
  handleSignals: true,
});
