// test/service-security.test.ts again, on PostgreSQL state (each service in a fresh schema, dropped afterwards).
process.env.VIGIL_TEST_ENGINE = 'postgres';
await import('../service-security.test.js');
