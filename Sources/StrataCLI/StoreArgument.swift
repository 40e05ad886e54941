import ArgumentParser
import StrataStore

/// Opens the store named by a database argument (a directory path).
func openStore(_ db: String) throws -> any ObjectStore {
    do {
        return try DirectoryStore(path: db)
    } catch {
        throw ValidationError("cannot open \(db): \(error)")
    }
}
