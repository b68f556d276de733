// test/client-service.test.ts again, on PostgreSQL state (the range lookup's SQL is per engine).
process.env.VIGIL_TEST_ENGINE = 'postgres';
await import('../client-service.test.js');
