import Foundation
@testable import StrataSQL
import Testing

/// `TableInfo` keeps its visible columns and row key prefix with its columns and id:
/// every row read or written asks for them.
@Suite struct CatalogTests {
    @Test func derivedColumnsAndPrefixFollowChanges() throws {
        var t = TableInfo(id: 7, name: "t", columns: [ColumnInfo(name: "a", type: .bigint), ColumnInfo(name: "b", type: .text)], primaryKey: [0])
        #expect(t.visibleColumns == [0, 1])
        #expect(t.prefix() == KeyLayout.tablePrefix(7, index: 0))
        t.columns[0].dropped = true
        t.columns.append(ColumnInfo(name: "c", type: .bigint))
        #expect(t.visibleColumns == [1, 2])
        t.id = 9
        #expect(t.prefix() == KeyLayout.tablePrefix(9, index: 0))
        #expect(t.prefix(index: 2) == KeyLayout.tablePrefix(9, index: 2))
    }

    @Test func decodingRebuildsWhatIsNotStored() throws {
        var t = TableInfo(id: 3, name: "t", columns: [ColumnInfo(name: "a", type: .bigint), ColumnInfo(name: "b", type: .text)], primaryKey: [0])
        t.columns[1].dropped = true
        let bytes = try JSONEncoder().encode(t)
        let keys = try #require(JSONSerialization.jsonObject(with: bytes) as? [String: Any]).keys
        #expect(!keys.contains("visibleColumns") && !keys.contains("rowPrefix"))
        let back = try JSONDecoder().decode(TableInfo.self, from: bytes)
        #expect(back == t)
        #expect(back.visibleColumns == [0])
        #expect(back.prefix() == KeyLayout.tablePrefix(3, index: 0))
    }
}
