"""Mobile push over SNS: the default send rate, segment fan-out, and the broken-app guard."""

from config.env import env_float, env_int

# SNS publishes per second on a connection's push lane, unless the connection has its own (Push connection rates).
SESAME_PUSH_SEND_RATE = env_float("SESAME_PUSH_SEND_RATE", 100.0)
# A segment send reads this many contacts per step of its fan-out.
SESAME_PUSH_FANOUT_CHUNK = env_int("SESAME_PUSH_FANOUT_CHUNK", 1000)
# The broken-app guard: when, over the last WINDOW seconds, at least MIN_SENDS of an app's pushes were tried and at
# least FAILURE_SHARE of them failed on the token or the app, the app is paused and its devices are kept enabled.
SESAME_PUSH_GUARD_WINDOW_SECONDS = env_int("SESAME_PUSH_GUARD_WINDOW_SECONDS", 300)
SESAME_PUSH_GUARD_MIN_SENDS = env_int("SESAME_PUSH_GUARD_MIN_SENDS", 20)
SESAME_PUSH_GUARD_FAILURE_SHARE = env_float("SESAME_PUSH_GUARD_FAILURE_SHARE", 0.5)
