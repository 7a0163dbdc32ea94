"""Dagster plumbing, apart from the phases and the operating tools: the instance's event-log storage
(`instance_storage`), every private-API use (`dagster_private`), Dagster's CLI as `nba-pipeline` runs it
(`dagster_cli`), the production run launcher (`run_launcher`), the gated automation conditions and the late-data
sensor (`automation`), a run's step times from its start and end events (`run_steps`), and the Beta/Preview
features the platform relies on, acknowledged once (`preview`).
Nothing here is imported at package import time except `preview`, which needs only the standard library."""
