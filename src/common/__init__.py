"""What both workers share: pure modules (CPython-importable), plus the runtime edges
`r2_streams` (imports `js`) and `responses` (imports `workers`)."""
