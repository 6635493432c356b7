process.env.E2E_DB = 'sqlite';
process.env.E2E_HTTP_ADAPTER = 'fastify';
