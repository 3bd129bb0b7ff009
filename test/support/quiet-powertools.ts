/** jest setup: handlers' Powertools logs and EMF records stay off the test output unless a test turns them on. */
process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
