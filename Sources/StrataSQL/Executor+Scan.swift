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
        let builder = try ScanRowBuilder(spec)
        let filterSubs = spec.filter.map(subqueryIndexes) ?? []
        var out: [[SQLValue]] = []

        func emit(_ key: [UInt8], _ value: [UInt8]) async throws {
            let row = try builder.row(key, value)
            if let f = spec.filter, !(try await test(f, row, filterSubs)) { return }
            out.append(row)
        }

        let rowPrefix = table.prefix()
        switch spec.access {
        case .full:
            try await reader.forEach(in: KeyRange.prefix(rowPrefix)) { k, v in try await emit(k, v) }
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
                try await reader.forEach(in: range) { k, v in try await emit(k, v) }
            } else {
                var rowKeys: [[UInt8]] = []
                try await reader.forEach(in: range) { _, v in rowKeys.append(v) }
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
        let decoder = try PhysicalRowDecoder(table)
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
                    physical = try decoder.decode(v.value)
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
    let decoder: PhysicalRowDecoder
    /// Physical column position and slot of each visible column.
    let physicalToSlot: [(Int, Int)]

    init(_ spec: ScanSpec) throws {
        self.spec = spec
        decoder = try PhysicalRowDecoder(spec.table)
        physicalToSlot = spec.table.visibleColumns.enumerated().map { ($0.element, spec.offset + $0.offset) }
    }

    /// The row stored as `value` under `key`, placed in a row of the scan's width.
    func row(_ key: [UInt8], _ value: [UInt8]) throws -> [SQLValue] {
        let physical = try decoder.decode(value)
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
