"""Reports from stored results only: tables (pandas → CSV), figures (matplotlib) and one static
HTML page (``archsim report``); nothing is re-run."""
