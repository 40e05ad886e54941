import ArgumentParser
import StrataStore

/// Opens the store named by a database argument: a directory path or an `s3://` URL.
func openStore(_ db: String) throws -> any ObjectStore {
    do {
        return try StoreLocation.open(db)
    } catch {
        throw ValidationError("cannot open \(db): \(error)")
    }
}
