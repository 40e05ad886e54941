/// Opens the store a database location names: `s3://bucket/prefix?...` (see
/// ``S3Configuration/parse(_:environment:)``), `file://PATH`, or a directory path.
public enum StoreLocation {
    /// Opens the store at `location`. A bucket gets the disk cache its URL (or the default) asks for.
    public static func open(_ location: String) throws -> any ObjectStore {
        if S3Configuration.isS3URL(location) {
            let config = try S3Configuration.parse(location)
            let s3 = S3Store(config)
            guard let dir = config.cacheDirectory else { return s3 }
            return try DiskCachedStore(s3, directory: dir, limit: config.cacheBytes)
        }
        var path = location
        if path.hasPrefix("file://") { path.removeFirst(7) }
        return try DirectoryStore(path: path)
    }

    /// The S3 store underneath `store` (through a disk cache), if there is one: for request counters.
    public static func s3Store(under store: any ObjectStore) -> S3Store? {
        if let s = store as? S3Store { return s }
        if let c = store as? DiskCachedStore { return s3Store(under: c.base) }
        if let f = store as? FaultInjectingStore { return s3Store(under: f.base) }
        if let r = store as? RetryingStore { return s3Store(under: r.base) }
        return nil
    }
}
