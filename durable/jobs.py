"""The sweeper on the schedule; see durable.sweeper."""

SCHEDULES = [
    # (function, minutes between runs)
    ("durable.sweeper.sweep", 1),
]
