from config.env import env_choice, env_float, env_str

# simulator: a local SES stand-in (no AWS account needed); aws: the customer's real SES/SNS through boto3.
SESAME_AWS_MODE = env_choice("SESAME_AWS_MODE", "simulator", ("simulator", "aws"))
SESAME_DEFAULT_AWS_REGION = env_str("SESAME_DEFAULT_AWS_REGION", "us-east-1")
# Base URL AWS reaches Sesame at (SNS subscriptions point here).
SESAME_PUBLIC_URL = env_str("SESAME_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
# Only used in tests and benchmarks: send every boto3 call to this endpoint (moto server, fake SES).
SESAME_AWS_ENDPOINT_URL = env_str("SESAME_AWS_ENDPOINT_URL")
# The simulator's answer to GetSendQuota: recipients per second (SES's default production rate is 14).
SESAME_SIMULATOR_SEND_RATE = env_float("SESAME_SIMULATOR_SEND_RATE", 14.0)
