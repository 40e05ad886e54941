import StrataEngine

/// One row written by a committed transaction, decoded with the schema of its commit.
public struct RowChange: Sendable, Equatable {
    /// What happened to the row.
    public enum Operation: String, Sendable {
        /// The row did not exist before the commit.
        case insert
        /// The row existed and was overwritten.
        case update
        /// The row was removed; `values` holds it as it was before.
        case delete
    }

    /// The commit's sequence number.
    public var seq: UInt64
    /// The commit's timestamp, microseconds since 1970.
    public var timestamp: UInt64
    /// The table's name at that commit.
    public var table: String
    /// Insert, update or delete.
    public var operation: Operation
    /// The table's visible columns.
    public var columns: [ResultColumn]
    /// The row after the commit (before it, for a delete).
    public var values: [SQLValue]
}

/// Turns a commit's key-value writes into row changes: rows of tables only (catalog
/// records and index entries are skipped), decoded with the catalog as of the commit.
public enum RowChangeDecoder {
    /// The row changes of `change`, in key order (table by table).
    public static func decode(_ change: Change, engine: Engine) async throws -> [RowChange] {
        // The feed reads the log directly and may be ahead of this engine's state.
        if engine.head < change.seq { try await engine.refresh() }
        let snapshot = try engine.snapshot(at: change.seq)
        let catalog = try Catalog.decode(try await snapshot.scan(KeyRange.prefix(KeyLayout.catalogPrefix), limit: .max))
        var byPrefix: [[UInt8]: TableInfo] = [:]
        for t in catalog.tables.values { byPrefix[t.prefix()] = t }
        let before = change.seq > 1 ? try engine.snapshot(at: change.seq - 1) : nil
        var out: [RowChange] = []
        var decoders: [UInt32: PhysicalRowDecoder] = [:]
        for m in change.mutations where m.key.count >= 9 && m.key[0] == 0x01 {
            guard let table = byPrefix[Array(m.key[0..<9])] else { continue }
            let decoder: PhysicalRowDecoder
            if let d = decoders[table.id] {
                decoder = d
            } else {
                decoder = try PhysicalRowDecoder(table)
                decoders[table.id] = decoder
            }
            let old = try await before?.get(m.key)
            let stored: [UInt8]
            let operation: RowChange.Operation
            if m.kind == .put {
                stored = m.value
                operation = old == nil ? .insert : .update
            } else {
                guard let old else { continue }  // deleting an absent row changes nothing
                stored = old
                operation = .delete
            }
            let physical = try decoder.decode(stored)
            let visible = table.visibleColumns
            out.append(RowChange(
                seq: change.seq, timestamp: change.timestamp, table: table.name, operation: operation,
                columns: visible.map { ResultColumn(name: table.columns[$0].name, type: table.columns[$0].type) },
                values: visible.map { physical[$0] }))
        }
        return out
    }
}
