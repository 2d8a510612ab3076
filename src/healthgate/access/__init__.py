"""Data access requests under the Five Safes: enquiries, multi-custodian applications, reviews, decisions,
waiting-time clocks, the DUO data-use check, notifications and GA4GH Passport visas."""
