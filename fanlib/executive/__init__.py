"""The executive overview (``05_overview``): the other reports' headline figures against their targets."""
