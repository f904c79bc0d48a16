"""Statistics shared by more than one report: intervals, least squares, classification quality."""
