import StrataStore

/// What `verify` found.
public struct VerifyReport: Sendable {
    /// Log entries checked.
    public var entries = 0
    /// Objects whose hash was checked.
    public var objects = 0
    /// Segments whose blocks were all decoded and checked.
    public var segments = 0
    /// Every problem found, each naming the object or entry; empty when all is well.
    public var problems: [String] = []

    /// True when nothing is wrong.
    public var isValid: Bool { problems.isEmpty }
}

extension Engine {
    /// Checks the whole database: every object's bytes against its hash, the log's
    /// hash chain and sequence numbers, every checkpoint, every reference from the log
    /// to an object, and every block of every segment.
    public static func verify(_ store: any ObjectStore, branch: String = "main") async throws -> VerifyReport {
        let store = retrying(store)
        var report = VerifyReport()
        let objects = try await storageErrors { try await store.listAll(prefix: StoreLayout.objectPrefix) }
        var good: Set<String> = []
        for o in objects {
            report.objects += 1
            guard let h = StoreLayout.hash(fromObjectKey: o.key) else {
                report.problems.append("\(o.key): not a content-addressed object name")
                continue
            }
            do {
                _ = try await readObject(store, h)
                good.insert(o.key)
            } catch {
                report.problems.append("\(o.key): \(describe(error))")
            }
        }

        let logKeys: [ObjectInfo]
        do {
            logKeys = try await store.listAll(prefix: StoreLayout.logPrefix(branch))
        } catch let e as StoreError {
            // The log itself cannot be read through: name what is damaged and stop there.
            report.problems.append(e.description)
            return report
        }
        var expected: UInt64 = 1
        var parent = ContentHash.zero
        var lastTimestamp: UInt64 = 0
        var structural: [UInt64: ContentHash] = [:]
        var refs: [(String, ContentHash)] = []
        var segmentRefs: [SegmentRef] = []
        for info in logKeys {
            guard let seq = StoreLayout.seq(fromKey: info.key) else {
                report.problems.append("\(info.key): not a log entry name")
                continue
            }
            if seq != expected {
                report.problems.append("\(info.key): log has a gap before it (expected \(StoreLayout.logKey(branch, expected)))")
                expected = seq
            }
            expected += 1
            report.entries += 1
            let bytes: [UInt8]
            let entry: LogEntry
            do {
                bytes = try await storageErrors { try await store.get(info.key) }
                entry = try LogEntry.decode(bytes)
            } catch {
                report.problems.append("\(info.key): \(describe(error))")
                parent = ContentHash.zero
                continue
            }
            if entry.seq != seq { report.problems.append("\(info.key): holds sequence \(entry.seq)") }
            if entry.parent != parent {
                report.problems.append("\(info.key): parent hash does not match the previous entry (chain broken)")
            }
            if entry.timestamp <= lastTimestamp && seq > 1 {
                report.problems.append("\(info.key): timestamp does not increase")
            }
            lastTimestamp = entry.timestamp
            parent = ContentHash(of: bytes)
            switch entry.body {
            case .inline: break
            case .batchObject(let h, _, _): refs.append((info.key, h))
            case .structural(let s):
                structural[seq] = s.manifest
                refs.append((info.key, s.manifest))
                for a in s.adds {
                    refs.append((info.key, a.hash))
                    segmentRefs.append(a)
                }
            }
        }
        let listed = Set(objects.map(\.key))
        for (from, h) in refs where !listed.contains(StoreLayout.objectKey(h)) {
            // Written after the listing by a live writer (objects precede the entry naming them)?
            do {
                _ = try await readObject(store, h)
                good.insert(StoreLayout.objectKey(h))
            } catch StoreError.notFound {
                report.problems.append("\(from): references missing object \(StoreLayout.objectKey(h))")
            } catch {
                report.problems.append("\(StoreLayout.objectKey(h)): \(describe(error))")
            }
        }

        let pointers = try await storageErrors { try await store.listAll(prefix: StoreLayout.checkpointPrefix(branch)) }
        for p in pointers {
            let text = (try? await store.get(p.key)).map { String(decoding: $0, as: UTF8.self) } ?? ""
            guard let seq = StoreLayout.seq(fromKey: p.key), let h = ContentHash(hex: text) else {
                report.problems.append("\(p.key): malformed checkpoint")
                continue
            }
            if structural[seq] != h {
                report.problems.append("\(p.key): does not match the manifest of log entry \(seq)")
            }
        }

        let cache = BlockCache(capacity: 8 << 20)
        for ref in segmentRefs where good.contains(StoreLayout.objectKey(ref.hash)) {
            do {
                let r = try await SegmentReader.open(ref, store: store, cache: cache)
                var count = 0
                for b in 0..<r.blockCount { count += try await r.block(b).count }
                if count != ref.count { report.problems.append("\(StoreLayout.objectKey(ref.hash)): holds \(count) entries, log says \(ref.count)") }
                report.segments += 1
            } catch {
                report.problems.append("\(StoreLayout.objectKey(ref.hash)): \(describe(error))")
            }
        }
        return report
    }
}

func describe(_ error: any Error) -> String {
    if let e = error as? EngineError { return e.message }
    if let e = error as? StoreError { return e.description }
    return "\(error)"
}
