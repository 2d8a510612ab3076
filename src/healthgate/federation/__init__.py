"""Federation: harvest custodians' own catalogues, and serve ours for other gateways to harvest."""
