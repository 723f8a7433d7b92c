# The quickstart's project is run in a copy by walkthrough.py, as its reader would run it, never
# imported into the test process (its modules would register tasks and shadow settings).
collect_ignore = ["quickstart"]
