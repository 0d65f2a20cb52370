"""mm-view: an interactive web viewer (viser) of motion clips, retarget directories and policies."""
