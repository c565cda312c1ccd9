"""The delivery engine every channel (email, SMS, push) rides on.

- `outbox`: the columns and indexes a channel's outbox table needs;
- `channels`: the Channel base (claim, settle, release, sweep, written once) and the registry;
- `lanes`: per-connection lanes, fair turns and send buckets (Redis, or process memory without it);
- `engine`: the feeder and sender threads of one worker process;
- `services` and `tasks`: the doorbell and beat's tick and sweep;
- `worker`: starts the engine in `-Q dispatch` Celery workers.
"""
