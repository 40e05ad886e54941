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

    /// Reads a table's rows by the scan's access path, filtered, pushing them to `sink`
    /// in batches of at most `Executor.batchSize` stored rows. Returns false when the sink
    /// stopped the scan.
    /// With `project` (slots of the scan's row, when a projection of plain columns sits
    /// right above it), each row is decoded into one reused buffer and only those slots copied out.
    func scan(_ spec: ScanSpec, project: [Int]? = nil, _ sink: RowSink) async throws -> Bool {
        if case .history(let from, let to) = spec.version {
            let rows = try await historyScan(spec, from, to)
            return try await emit(project.map { p in rows.map { r in p.map { r[$0] } } } ?? rows, sink)
        }
        let reader = try reader(spec.version)
        let table = spec.table
        let builder = try ScanRowBuilder(spec)
        let filterSubs = spec.filter.map(subqueryIndexes) ?? []
        // A filter without subqueries runs while decoding; one with subqueries per batch.
        let inlineFilter = filterSubs.isEmpty ? spec.filter : nil
        let ctx = self.ctx
        // A filter with subqueries needs whole rows: projecting waits until after it.
        let inlineProject = filterSubs.isEmpty ? project : nil
        func deliver(_ batch: consuming [[SQLValue]]) async throws -> Bool {
            if batch.isEmpty { return true }
            guard let f = spec.filter, !filterSubs.isEmpty else {
                if let project, inlineProject == nil { return try await sink(batch.map { r in project.map { r[$0] } }) }
                return try await sink(batch)
            }
            var kept: [[SQLValue]] = []
            for r in batch where try await test(f, r, filterSubs) { kept.append(project.map { p in p.map { r[$0] } } ?? r) }
            return kept.isEmpty ? true : try await sink(kept)
        }
        func scanRange(_ range: KeyRange) async throws -> Bool {
            // The per-row state lives behind a pointer: variables captured by the row
            // closure would be checked for exclusive access at run time on every row.
            let state = UnsafeMutablePointer<ScanBatcher>.allocate(capacity: 1)
            state.initialize(to: ScanBatcher(builder: builder, project: inlineProject, filter: inlineFilter, ctx: ctx))
            defer {
                state.deinitialize(count: 1)
                state.deallocate()
            }
            var lower = range.lower
            while true {
                try await reader.forEachRaw(KeyRange(lower: lower, upper: range.upper)) { k, v in try state.pointee.take(k, v) }
                // The batch leaves the batcher before delivery, so the sink owns it alone.
                let batch = state.pointee.batch
                let resumeAfter = state.pointee.resumeAfter
                state.pointee.reset()
                if !(try await deliver(consume batch)) { return false }
                try ctx.cancel?.check()
                guard let resumeAfter else { return true }
                lower = resumeAfter + [0]
                await Task.yield()
            }
        }
        // Rows by key, one point read each (primary-key lists, secondary-index matches).
        func readRows(_ keys: [[UInt8]]) async throws -> Bool {
            var batcher = ScanBatcher(builder: builder, project: inlineProject, filter: inlineFilter, ctx: ctx)
            for k in keys {
                guard let v = try await reader.get(k) else { continue }
                if !(try k.withUnsafeBytes { kb in try v.withUnsafeBytes { try batcher.take(kb, $0) } }) {
                    if !(try await deliver(batcher.batch)) { return false }
                    batcher.reset()
                }
            }
            return try await deliver(batcher.batch)
        }

        let rowPrefix = table.prefix()
        switch spec.access {
        case .full:
            return try await scanRange(KeyRange.prefix(rowPrefix))
        case .points(_, let keyLists):
            var seen = Set<ByteKey>()
            var keys: [[UInt8]] = []
            for list in keyLists {
                guard let values = try await keyValues(list, table, table.primaryKey) else { continue }
                let key = KeyEncoding.encode(values, prefix: rowPrefix)
                if keyLists.count > 1 { guard seen.insert(ByteKey(key)).inserted else { continue } }
                keys.append(key)
            }
            return try await readRows(keys)
        case .range(let indexId, let prefixExprs, let low, let high):
            let cols = indexId == 0 ? table.primaryKey : (table.indexes.first { $0.id == indexId }?.columns ?? [])
            guard let prefixValues = try await keyValues(prefixExprs, table, Array(cols.prefix(prefixExprs.count))) else { return true }
            let base = KeyEncoding.encode(prefixValues, prefix: table.prefix(index: indexId))
            var lower = base
            var upper: [UInt8]? = KeyRange.prefix(base).upper
            let next = prefixExprs.count < cols.count ? cols[prefixExprs.count] : nil
            if let next {
                if let (e, inclusive) = low {
                    guard let v = try await keyValues([e], table, [next]) else { return true }
                    let enc = KeyEncoding.encode(v, prefix: base)
                    lower = inclusive ? enc : (KeyRange.prefix(enc).upper ?? enc)
                }
                if let (e, inclusive) = high {
                    guard let v = try await keyValues([e], table, [next]) else { return true }
                    let enc = KeyEncoding.encode(v, prefix: base)
                    upper = inclusive ? KeyRange.prefix(enc).upper : enc
                } else if low != nil {
                    upper = base + [KeyEncoding.tagNull]  // NULLs sort last; a range excludes them
                }
            }
            let range = KeyRange(lower: lower, upper: upper)
            if indexId == 0 { return try await scanRange(range) }
            var rowKeys: [[UInt8]] = []
            try await reader.forEach(in: range) { _, v in rowKeys.append(v) }
            return try await readRows(rowKeys)
        }
    }

    /// Evaluates key expressions and converts them to the key columns' types; nil when
    /// one is NULL (nothing can match) or cannot be represented exactly.
    func keyValues(_ exprs: [BExpr], _ table: TableInfo, _ cols: [Int]) async throws -> [SQLValue]? {
        var out: [SQLValue] = []
        for (e, c) in zip(exprs, cols) {
            guard let v = try table.columns[c].type.keyValue(try await eval(e, [], subqueryIndexes(e))) else { return nil }
            out.append(v)
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

/// Collects one batch of a scan's rows: decodes each stored row, filters and projects it
/// (every access path of a scan goes through it).
struct ScanBatcher {
    let builder: ScanRowBuilder
    let project: [Int]?
    let filter: BExpr?
    let ctx: EvalContext
    var scratch: [SQLValue]
    var batch: [[SQLValue]] = []
    var visited = 0
    /// The last key taken when the batch filled up; nil when the range ended.
    var resumeAfter: [UInt8]? = nil

    init(builder: ScanRowBuilder, project: [Int]?, filter: BExpr?, ctx: EvalContext) {
        self.builder = builder
        self.project = project
        self.filter = filter
        self.ctx = ctx
        scratch = [SQLValue](repeating: .null, count: builder.spec.width)
    }

    /// Takes one stored row; false when the batch is full.
    @inline(__always) mutating func take(_ k: UnsafeRawBufferPointer, _ v: UnsafeRawBufferPointer) throws -> Bool {
        if let p = project {
            try builder.fill(&scratch, k, v)
            if let f = filter, try Evaluator.eval(f, scratch, ctx) != .bool(true) {} else {
                var out: [SQLValue] = []
                out.reserveCapacity(p.count)
                for slot in p { out.append(scratch[slot]) }
                batch.append(out)
            }
        } else {
            if let f = filter {
                let row = try builder.row(k, v)
                if case .bool(true) = try Evaluator.eval(f, row, ctx) { batch.append(row) }
            } else {
                batch.append(try builder.row(k, v))
            }
        }
        visited += 1
        if visited >= Executor.batchSize {
            resumeAfter = Array(k)
            return false
        }
        return true
    }

    /// Starts the next batch.
    mutating func reset() {
        batch = []
        visited = 0
        resumeAfter = nil
    }
}

/// Turns stored rows of one table into full-width rows for a scan's slots. A class: the
/// batcher and every closure of a scan share it (a copy of its spec retains a dozen arrays).
final class ScanRowBuilder: Sendable {
    let spec: ScanSpec
    let decoder: PhysicalRowDecoder
    /// Physical column position and slot of each visible column.
    let physicalToSlot: [(Int, Int)]
    /// True when no column was dropped: stored values decode straight into their slots.
    let direct: Bool

    init(_ spec: ScanSpec) throws {
        self.spec = spec
        decoder = try PhysicalRowDecoder(spec.table)
        physicalToSlot = spec.table.visibleColumns.enumerated().map { ($0.element, spec.offset + $0.offset) }
        direct = physicalToSlot.count == spec.table.columns.count
    }

    /// The row stored as `value` under `key`, placed in a row of the scan's width.
    func row(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> [SQLValue] {
        var row = [SQLValue](repeating: .null, count: spec.width)
        try fill(&row, key, value)
        return row
    }

    /// Writes the stored row into its slots of an existing full-width row (a join's
    /// output row), leaving the other slots alone.
    func fill(_ row: inout [SQLValue], _ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws {
        if direct {
            for p in 0..<decoder.columnCount { row[spec.offset + p] = .null }
            for (p, v) in decoder.missing { row[spec.offset + p] = v }
            try RowEncoding.decode(value, width: decoder.columnCount, into: &row, at: spec.offset)
        } else {
            let physical = try decoder.decode(value)
            for (p, slot) in physicalToSlot { row[slot] = physical[p] }
        }
        if spec.withKey { row[spec.offset + physicalToSlot.count] = .bytes(Array(key)) }
    }

    func row(_ key: [UInt8], _ value: [UInt8]) throws -> [SQLValue] {
        try key.withUnsafeBytes { k in try value.withUnsafeBytes { try row(k, $0) } }
    }
}

extension Executor {
    /// True when point reads into `lookup`'s table beat reading it whole for `leftRows`
    /// left rows: the table holds at least four times as many (an estimate from the
    /// indexes, not recorded as a read). `known` carries what earlier calls learned, so
    /// a join asking again as its left rows arrive does not count the table again.
    func lookupsPay(_ lookup: IndexLookup, leftRows: Int, known: inout Int) -> Bool {
        let need = max(1024, leftRows * 4)
        if known >= need { return true }
        let ask = max(need, known * 2)
        known = source.snapshot.estimatedCount(KeyRange.prefix(lookup.scan.table.prefix()), limit: ask)
        return known >= need
    }

    /// Joins `left` rows by point reads into the right table (see ``lookupsPay``), keeping
    /// the left rows' order. The left rows are consumed: matched rows are filled in place,
    /// so a batch the caller no longer holds is joined without copying a row.
    func lookupJoin(_ spec: JoinSpec, _ lookup: IndexLookup, _ left: consuming [[SQLValue]]) async throws -> [[SQLValue]] {
        var rows = left
        let table = lookup.scan.table
        let prefix = table.prefix()
        let builder = try ScanRowBuilder(lookup.scan)
        let filterSubs = lookup.scan.filter.map(subqueryIndexes) ?? []
        let residualSubs = spec.residual.map(subqueryIndexes) ?? []
        let keyTypes = table.primaryKey.map { table.columns[$0].type }
        // Every left row's key (a row whose key has a NULL matches nothing) ...
        var keys: [[UInt8]] = []
        var rowOf: [Int] = []
        keys.reserveCapacity(rows.count)
        rowOf.reserveCapacity(rows.count)
        var ascending = true
        rows: for (i, l) in rows.enumerated() {
            var key = KeyEncoding.start(prefix, columns: keyTypes.count)
            for (e, type) in zip(lookup.keys, keyTypes) {
                var v: SQLValue
                if case .column(let c) = e { v = l[c] } else { v = try Evaluator.eval(e, l, ctx) }
                if v.isNull { continue rows }
                if type.isInteger, case .int = v {} else if type.isInteger { continue rows }
                switch (v, type) {
                case (.int, .bigint), (.text, .text): break
                default: v = try Cast.cast(v, to: type, length: nil, explicit: true)
                }
                KeyEncoding.append(v, to: &key)
            }
            if ascending, let last = keys.last, compareBytes(last, key) > 0 { ascending = false }
            keys.append(key)
            rowOf.append(i)
        }
        // ... read in key order (neighbouring keys share index searches and blocks).
        if !ascending {
            let order = keys.indices.sorted { compareBytes(keys[$0], keys[$1]) < 0 }
            keys = order.map { keys[$0] }
            rowOf = order.map { rowOf[$0] }
        }
        // Matched rows are filled straight from the stored bytes, without copying values out.
        var matched = [Bool](repeating: false, count: rows.count)
        var uncached: [Int] = []
        func take(_ n: Int, _ answer: CachedValue) throws {
            switch answer {
            case .found(let bytes):
                let i = rowOf[n]
                try keys[n].withUnsafeBytes { k in try builder.fill(&rows[i], k, bytes) }
                matched[i] = true
            case .absent: break
            case .uncached: uncached.append(n)
            }
        }
        try source.cachedGetMany(keys, take)
        for n in uncached {
            // Own writes and the read's record were settled by cachedGetMany: only
            // the committed value is missing.
            if let bytes = try await source.snapshot.get(keys[n]) {
                try bytes.withUnsafeBytes { try take(n, .found($0)) }
            }
        }
        // Rows that are kept move to the front, in order.
        let filter = lookup.scan.filter
        var kept = 0
        for i in rows.indices {
            var keep = matched[i]
            if keep, let f = filter { keep = try await test(f, rows[i], filterSubs) }
            if keep, let residual = spec.residual { keep = try await test(residual, rows[i], residualSubs) }
            if !keep {
                guard spec.kind == .left else { continue }
                // A left join keeps the left row with the right side's slots empty.
                if matched[i] { for r in spec.rightSlots { for slot in r { rows[i][slot] = .null } } }
            }
            if kept != i { rows.swapAt(kept, i) }
            kept += 1
        }
        rows.removeLast(rows.count - kept)
        return rows
    }
}
