"""Schedule: jobs that wire compose → render → outbox → delivery, and APScheduler around them."""
