"""Generated protobuf code of the hub's on-disk records (proto/signalhub/storage). Only
`exchange` uses it."""
