"""What a report shows: notebook helpers (banner, tables, the section guard, the summary), the plotting
theme, messages in the reader's language, privacy masking, escaping and the Excel export."""
