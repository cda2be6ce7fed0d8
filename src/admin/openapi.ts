import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';

import { packageVersion } from './package-version';

/** Swagger UI at /api/gateway/docs and the OpenAPI 3 JSON at /api/gateway/docs-json. */
export function setupOpenApi(app: INestApplication): void {
  const config = new DocumentBuilder()
    .setTitle('API gateway')
    .setDescription(
      "The gateway's own endpoints: health, metrics, OAuth 2.0 and the admin API. Proxied routes are configured in config/services/*.yaml.",
    )
    .setVersion(packageVersion())
    .addBearerAuth()
    .addApiKey({ type: 'apiKey', in: 'header', name: 'X-API-Key' }, 'apiKey')
    .build();
  SwaggerModule.setup('api/gateway/docs', app, () => SwaggerModule.createDocument(app, config), {
    jsonDocumentUrl: 'api/gateway/docs-json',
  });
}
