"""Readers of the files a person drops in the inbox: spreadsheets, form exports, order sheets, and the header
mapping they share."""
