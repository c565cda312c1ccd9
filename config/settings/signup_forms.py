"""Sign-up forms (emails/forms/): the public endpoint's guards and the confirmation link's lifetime."""

from config.env import env_int, env_str

# Sign-ups accepted in any rolling hour from one client IP, for one address, and for one recipient domain of one
# account (a list-bombing run against one company's addresses stops at the domain limit).
SESAME_FORMS_PER_IP_PER_HOUR = env_int("SESAME_FORMS_PER_IP_PER_HOUR", 20)
SESAME_FORMS_PER_ADDRESS_PER_HOUR = env_int("SESAME_FORMS_PER_ADDRESS_PER_HOUR", 3)
SESAME_FORMS_PER_DOMAIN_PER_HOUR = env_int("SESAME_FORMS_PER_DOMAIN_PER_HOUR", 300)
# Days a confirmation link works.
SESAME_FORMS_CONFIRM_DAYS = env_int("SESAME_FORMS_CONFIRM_DAYS", 7)
# A captcha (or any other) check of your own: the dotted path of a function taking keyword arguments `form`, `data`
# (the posted body) and `ip`, returning None to let the sign-up through or a message telling the visitor why not.
SESAME_FORMS_CHALLENGE_HOOK = env_str("SESAME_FORMS_CHALLENGE_HOOK", "")
