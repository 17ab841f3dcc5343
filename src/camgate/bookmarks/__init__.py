"""Bookmarks: a headline and a description on a time span of one camera's video."""
