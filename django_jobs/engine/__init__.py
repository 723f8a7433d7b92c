"""Every write of a job's state, lease and dead letter, and the INSERT of new jobs."""
