"""Running the reports: parameters, the notebooks' kernel, executing one report, the suite, the run lock,
the dated folder's layout, the HTML export and the index pages."""
