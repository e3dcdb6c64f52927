"""The API worker: HTTP rules for uploads, media records, files, auth and CORS."""
