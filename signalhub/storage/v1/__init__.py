"""Generated code of signalhub.storage.v1 (see proto/signalhub/storage/v1/records.proto)."""
