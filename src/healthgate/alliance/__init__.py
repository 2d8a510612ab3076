"""The alliance: members, their letters of intent and their obligations."""
