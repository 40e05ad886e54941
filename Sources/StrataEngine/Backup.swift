import StrataStore

/// What a backup copied.
public struct BackupReport: Sendable, Equatable {
    /// Objects (segments, batches, manifests) copied.
    public var objectsCopied = 0
    /// Bytes of the objects copied.
    public var bytesCopied = 0
    /// Log entries and checkpoint pointers copied.
    public var entriesCopied = 0
    /// Objects and entries the destination already had.
    public var skipped = 0
    /// The branches found in the source.
    public var branches: [String] = []
}

extension Engine {
    /// Copies the database in `source` to `destination` (any two stores), sending only
    /// what the destination lacks, so a repeated backup is incremental.
    ///
    /// The source may be in use: its log and checkpoints are listed first and its
    /// objects after, so every object a listed entry refers to is copied. Objects go
    /// first (each checked against its content hash on the way), then each branch's
    /// log entries in order with put-if-absent, then checkpoint pointers, so a reader
    /// of the destination never meets an entry whose objects are missing. An entry the
    /// destination holds with other bytes (a diverged copy) stops the backup with an error.
    public static func backup(from source: any ObjectStore, to destination: any ObjectStore) async throws -> BackupReport {
        let source = retrying(source), destination = retrying(destination)
        return try await storageErrors {
            var report = BackupReport()
            let logs = try await source.listAll(prefix: StoreLayout.logRoot)
            let checkpoints = try await source.listAll(prefix: StoreLayout.checkpointRoot)
            let objects = try await source.listAll(prefix: StoreLayout.objectPrefix)
            let present = Set(try await destination.listAll(prefix: StoreLayout.objectPrefix).map(\.key))

            let missing = objects.filter { !present.contains($0.key) }
            report.skipped += objects.count - missing.count
            try await withThrowingTaskGroup(of: Int.self) { group in
                var next = 0
                func start() {
                    let o = missing[next]
                    next += 1
                    group.addTask {
                        guard let h = StoreLayout.hash(fromObjectKey: o.key) else {
                            throw corrupt("\(o.key): not a content-addressed object name")
                        }
                        let bytes = try await readObject(source, h)
                        try await destination.put(o.key, bytes)
                        return bytes.count
                    }
                }
                while next < missing.count && next < 16 { start() }
                while let n = try await group.next() {
                    report.objectsCopied += 1
                    report.bytesCopied += n
                    if next < missing.count { start() }
                }
            }

            // Log entries, branch by branch, in sequence order.
            var byBranch: [String: [(UInt64, String)]] = [:]
            for l in logs {
                let parts = l.key.split(separator: "/")
                guard parts.count == 3, let seq = StoreLayout.seq(fromKey: l.key) else { continue }
                byBranch[String(parts[1]), default: []].append((seq, l.key))
            }
            report.branches = byBranch.keys.sorted()
            let copiedLogs = Set(try await destination.listAll(prefix: StoreLayout.logRoot).map(\.key))
            for (_, entries) in byBranch {
                let sorted = entries.sorted { $0.0 < $1.0 }
                // Entries the destination has are skipped; the newest of them is compared,
                // which (the log being a hash chain) vouches for the ones before it.
                if let lastCommon = sorted.last(where: { copiedLogs.contains($0.1) })?.1 {
                    guard try await source.get(lastCommon) == (try await destination.get(lastCommon)) else {
                        throw EngineError(
                            EngineError.invalidArgument,
                            "the destination has diverged from the source at \(lastCommon): back up into an empty store")
                    }
                }
                for (_, key) in sorted {
                    if copiedLogs.contains(key) {
                        report.skipped += 1
                        continue
                    }
                    let bytes = try await source.get(key)
                    do {
                        try await destination.putIfAbsent(key, bytes)
                    } catch StoreError.alreadyExists {
                        throw EngineError(EngineError.invalidArgument, "\(key) was written in the destination during the backup")
                    }
                    report.entriesCopied += 1
                }
            }
            for c in checkpoints {
                let bytes = try await source.get(c.key)
                if try await destination.getIfPresent(c.key) == bytes {
                    report.skipped += 1
                } else {
                    try await destination.put(c.key, bytes)
                    report.entriesCopied += 1
                }
            }
            return report
        }
    }
}
