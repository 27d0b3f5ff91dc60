"""Presenters: domain values rendered for one wire format each (`bbb_xml`: the BBB API's XML answers)."""
