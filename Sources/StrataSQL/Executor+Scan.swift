import StrataEngine

extension Executor {
    /// The source a scan of `version` reads.
    func reader(_ version: TableVersion) throws -> ReadSource {
        switch version {
        case .current: return source
        case .snapshot(let i): return .snapshot(snapshots[i])
        case .history: throw SQLError(SQLError.featureNotSupported, "FOR SYSTEM_TIME ALL/BETWEEN/FROM is not supported yet")
        }
    }

    /// Reads a table's rows by the scan's access path, filtered.
    func scan(_ spec: ScanSpec) async throws -> [[SQLValue]] {
        if case .history(let from, let to) = spec.version { return try await historyScan(spec, from, to) }
        let reader = try reader(spec.version)
        let table = spec.table
        let visible = table.visibleColumns
        var template = [SQLValue](repeating: .null, count: spec.width)
        let physicalToSlot: [Int: Int] = Dictionary(uniqueKeysWithValues: visible.enumerated().map { ($0.element, spec.offset + $0.offset) })
        var missing: [(Int, SQLValue)] = []
        for (p, c) in table.columns.enumerated() where !c.dropped {
            if let m = c.missing {
                var one = [SQLValue](repeating: .null, count: 1)
                try m.withUnsafeBytes { try RowEncoding.decode($0, width: 1, into: &one, at: 0) }
                missing.append((p, one[0]))
            }
        }
        let filterSubs = spec.filter.map(subqueryIndexes) ?? []
        var physical = [SQLValue](repeating: .null, count: table.columns.count)
        var out: [[SQLValue]] = []

        func emit(_ key: [UInt8], _ value: [UInt8]) async throws {
            for i in physical.indices { physical[i] = .null }
            for (p, v) in missing { physical[p] = v }
            try value.withUnsafeBytes { try RowEncoding.decode($0, width: physical.count, into: &physical, at: 0) }
            var row = template
            for (p, slot) in physicalToSlot { row[slot] = physical[p] }
            if spec.withKey { row[spec.offset + visible.count] = .bytes(key) }
            if let f = spec.filter, !(try await test(f, row, filterSubs)) { return }
            out.append(row)
        }
        template[0] = template[0]  // keep the template mutable for the closure above

        let rowPrefix = table.prefix()
        switch spec.access {
        case .full:
            try await scanRange(reader, KeyRange.prefix(rowPrefix)) { k, v in try await emit(k, v) }
        case .points(_, let keyLists):
            var seen = Set<[UInt8]>()
            for list in keyLists {
                guard let values = try await keyValues(list, table, table.primaryKey) else { continue }
                let key = KeyEncoding.encode(values, prefix: rowPrefix)
                guard seen.insert(key).inserted else { continue }
                if let v = try await reader.get(key) { try await emit(key, v) }
            }
        case .range(let indexId, let prefixExprs, let low, let high):
            let cols = indexId == 0 ? table.primaryKey : (table.indexes.first { $0.id == indexId }?.columns ?? [])
            guard let prefixValues = try await keyValues(prefixExprs, table, Array(cols.prefix(prefixExprs.count))) else { return [] }
            let base = KeyEncoding.encode(prefixValues, prefix: table.prefix(index: indexId))
            var lower = base
            var upper: [UInt8]? = KeyRange.prefix(base).upper
            let next = prefixExprs.count < cols.count ? cols[prefixExprs.count] : nil
            if let next {
                if let (e, inclusive) = low {
                    guard let v = try await keyValues([e], table, [next]) else { return [] }
                    let enc = KeyEncoding.encode(v, prefix: base)
                    lower = inclusive ? enc : (KeyRange.prefix(enc).upper ?? enc)
                }
                if let (e, inclusive) = high {
                    guard let v = try await keyValues([e], table, [next]) else { return [] }
                    let enc = KeyEncoding.encode(v, prefix: base)
                    upper = inclusive ? KeyRange.prefix(enc).upper : enc
                } else if low != nil {
                    upper = base + [KeyEncoding.tagNull]  // NULLs sort last; a range excludes them
                }
            }
            let range = KeyRange(lower: lower, upper: upper)
            if indexId == 0 {
                try await scanRange(reader, range) { k, v in try await emit(k, v) }
            } else {
                var rowKeys: [[UInt8]] = []
                try await scanRange(reader, range) { _, v in rowKeys.append(v) }
                for k in rowKeys {
                    if let v = try await reader.get(k) { try await emit(k, v) }
                }
            }
        }
        return out
    }

    /// Evaluates key expressions and converts them to the key columns' types; nil when
    /// one is NULL (nothing can match) or cannot be represented exactly.
    func keyValues(_ exprs: [BExpr], _ table: TableInfo, _ cols: [Int]) async throws -> [SQLValue]? {
        var out: [SQLValue] = []
        for (e, c) in zip(exprs, cols) {
            let v = try await eval(e, [], subqueryIndexes(e))
            if v.isNull { return nil }
            let type = table.columns[c].type
            let converted = try Cast.cast(v, to: type, length: nil, explicit: true)
            if type.isInteger, case .int = v {} else if type.isInteger { return nil }
            out.append(converted)
        }
        return out
    }

    /// Calls `body` for each pair in `range`, reading in chunks.
    func scanRange(_ reader: ReadSource, _ range: KeyRange, _ body: ([UInt8], [UInt8]) async throws -> Void) async throws {
        var lower = range.lower
        while true {
            let chunk = try await reader.scan(KeyRange(lower: lower, upper: range.upper), limit: 1024)
            for kv in chunk { try await body(kv.key, kv.value) }
            scanned += chunk.count
            if chunk.count < 1024 { return }
            lower = chunk[chunk.count - 1].key + [0]
            await Task.yield()
        }
    }
}

extension Executor {
    /// Every version of every row whose validity overlaps commits `from...to`, with the
    /// system columns `_version`, `_valid_from`, `_valid_to` and `_op` after the columns.
    func historyScan(_ spec: ScanSpec, _ from: UInt64, _ to: UInt64) async throws -> [[SQLValue]] {
        let table = spec.table
        let visible = table.visibleColumns
        let snapshot = engine.snapshot()
        let versions = try await snapshot.versions(in: KeyRange.prefix(table.prefix()))
        let filterSubs = spec.filter.map(subqueryIndexes) ?? []
        var timestamps: [UInt64: SQLValue] = [:]
        func time(_ seq: UInt64) async throws -> SQLValue {
            if let t = timestamps[seq] { return t }
            let micros = try await engine.timestamp(of: seq)
            let t = SQLValue.timestamptz(Int64(micros) - DateTime.epochShift * DateTime.microsPerDay)
            timestamps[seq] = t
            return t
        }
        var out: [[SQLValue]] = []
        var i = 0
        while i < versions.count {
            var j = i
            while j < versions.count && versions[j].key == versions[i].key { j += 1 }
            let chain = versions[i..<j].reversed()  // oldest first
            var previous: (values: [SQLValue], deleted: Bool)? = nil
            let list = Array(chain)
            for (k, v) in list.enumerated() {
                let next = k + 1 < list.count ? list[k + 1].seq : nil
                var physical: [SQLValue]
                let op: String
                if v.kind == .delete {
                    guard let p = previous, !p.deleted else { continue }
                    physical = p.values
                    op = "delete"
                } else {
                    physical = [SQLValue](repeating: .null, count: table.columns.count)
                    for (p, c) in table.columns.enumerated() {
                        if let m = c.missing {
                            var one: [SQLValue] = [.null]
                            try m.withUnsafeBytes { try RowEncoding.decode($0, width: 1, into: &one, at: 0) }
                            physical[p] = one[0]
                        }
                    }
                    try v.value.withUnsafeBytes { try RowEncoding.decode($0, width: physical.count, into: &physical, at: 0) }
                    op = previous == nil || previous!.deleted ? "insert" : "update"
                }
                previous = (physical, v.kind == .delete)
                // Overlap with from...to: a delete is an instant; a put lasts until the next version.
                let end = v.kind == .delete ? v.seq : (next.map { $0 - 1 } ?? UInt64.max)
                guard v.seq <= to && end >= from else { continue }
                var row = [SQLValue](repeating: .null, count: spec.width)
                for (n, p) in visible.enumerated() { row[spec.offset + n] = physical[p] }
                let base = spec.offset + visible.count
                row[base] = .int(Int64(v.seq))
                row[base + 1] = try await time(v.seq)
                if v.kind == .delete {
                    row[base + 2] = row[base + 1]
                } else if let next {
                    row[base + 2] = try await time(next)
                }
                row[base + 3] = .text(op)
                if let f = spec.filter, !(try await test(f, row, filterSubs)) { continue }
                out.append(row)
            }
            i = j
        }
        return out
    }
}

/// Turns stored rows of one table into full-width rows for a scan's slots.
struct ScanRowBuilder {
    let spec: ScanSpec
    let physicalToSlot: [(Int, Int)]
    let missing: [(Int, SQLValue)]
    let columnCount: Int

    init(_ spec: ScanSpec) throws {
        self.spec = spec
        let visible = spec.table.visibleColumns
        physicalToSlot = visible.enumerated().map { ($0.element, spec.offset + $0.offset) }
        var missing: [(Int, SQLValue)] = []
        for (p, c) in spec.table.columns.enumerated() where !c.dropped {
            if let m = c.missing {
                var one = [SQLValue](repeating: .null, count: 1)
                try m.withUnsafeBytes { try RowEncoding.decode($0, width: 1, into: &one, at: 0) }
                missing.append((p, one[0]))
            }
        }
        self.missing = missing
        columnCount = spec.table.columns.count
    }

    /// The row stored as `value` under `key`, placed in a row of the scan's width.
    func row(_ key: [UInt8], _ value: [UInt8]) throws -> [SQLValue] {
        var physical = [SQLValue](repeating: .null, count: columnCount)
        for (p, v) in missing { physical[p] = v }
        try value.withUnsafeBytes { try RowEncoding.decode($0, width: columnCount, into: &physical, at: 0) }
        var row = [SQLValue](repeating: .null, count: spec.width)
        for (p, slot) in physicalToSlot { row[slot] = physical[p] }
        if spec.withKey { row[spec.offset + physicalToSlot.count] = .bytes(key) }
        return row
    }
}

extension Executor {
    /// Joins by point reads into the right table when it is larger than a few times the left
    /// side; otherwise reads it whole and hash-joins (the caller's default).
    /// Returns nil when the hash join should be used.
    func lookupJoin(_ spec: JoinSpec, _ lookup: IndexLookup, _ left: [[SQLValue]]) async throws -> [[SQLValue]]? {
        let table = lookup.scan.table
        let threshold = max(1024, left.count * 4)
        let sample = try await source.scan(KeyRange.prefix(table.prefix()), limit: threshold)
        if sample.count < threshold { return nil }
        let builder = try ScanRowBuilder(lookup.scan)
        let filterSubs = lookup.scan.filter.map(subqueryIndexes) ?? []
        let residualSubs = spec.residual.map(subqueryIndexes) ?? []
        let prefix = table.prefix()
        var out: [[SQLValue]] = []
        for l in left {
            var values: [SQLValue] = []
            var skip = false
            for (e, pk) in zip(lookup.keys, table.primaryKey) {
                let v = try Evaluator.eval(e, l, ctx)
                if v.isNull { skip = true; break }
                let type = table.columns[pk].type
                if type.isInteger, case .int = v {} else if type.isInteger { skip = true; break }
                values.append(try Cast.cast(v, to: type, length: nil, explicit: true))
            }
            var matched = false
            if !skip {
                let key = KeyEncoding.encode(values, prefix: prefix)
                if let bytes = try await source.get(key) {
                    let r = try builder.row(key, bytes)
                    var keep = true
                    if let f = lookup.scan.filter { keep = try await test(f, r, filterSubs) }
                    if keep {
                        var m = l
                        for range in spec.rightSlots { for i in range { m[i] = r[i] } }
                        if let residual = spec.residual { keep = try await test(residual, m, residualSubs) }
                        if keep {
                            matched = true
                            out.append(m)
                        }
                    }
                }
            }
            if !matched && spec.kind == .left { out.append(l) }
        }
        return out
    }
}
