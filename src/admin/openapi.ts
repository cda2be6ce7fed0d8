import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';

import { OPENAPI_SCHEMAS } from '../common/openapi';
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
    .addBasicAuth(
      { type: 'http', scheme: 'basic', description: 'client_secret_basic' },
      'clientBasic',
    )
    .build();
  const document = () => {
    const doc = SwaggerModule.createDocument(app, config);
    doc.components = {
      ...doc.components,
      schemas: { ...doc.components?.schemas, ...OPENAPI_SCHEMAS },
    };
    return doc;
  };
  SwaggerModule.setup('api/gateway/docs', app, document, {
    jsonDocumentUrl: 'api/gateway/docs-json',
  });
}
