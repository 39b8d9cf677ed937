"""Full screens the console pushes over its panes (comparing runs)."""
