"""A sibling module: proves modules under base_dir import as in production."""

BUILD_LABEL = "v1"
