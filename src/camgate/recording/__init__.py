"""Recording (R3, P1, P2): recorders per camera, the segment index, retention and playback."""
