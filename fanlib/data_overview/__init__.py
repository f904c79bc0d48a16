"""The data overview (``00_data_overview``): what the data holds, how fresh and complete it is."""
