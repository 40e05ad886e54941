import Foundation
import Strata
import StrataLocalServers
import StrataStore
import Testing

@Suite struct ReplicaTests {
    func bucketURL() async throws -> String {
        let moto = try await MotoServer.shared()
        return moto.url(try await moto.makeBucket(), "&cache=none")
    }

    /// Two replicas on one bucket both commit; each sees the other's rows after a
    /// refresh, and a third reads every row change, in commit order, as it happens.
    @Test func replicasOnOneBucketShareOneHistory() async throws {
        let url = try await bucketURL()
        let a = try await Database.open(url)
        let b = try await Database.open(url)
        try await a.execute("CREATE TABLE items (id INT PRIMARY KEY, name TEXT, qty INT)")
        try await a.execute("INSERT INTO items VALUES (1, 'apple', 3), (2, 'pear', 5)")
        try await b.engine.refresh()
        try await b.execute("UPDATE items SET qty = qty + 10 WHERE id = 1")
        try await b.execute("INSERT INTO items VALUES (3, 'fig', 1)")
        try await a.engine.refresh()
        try await a.execute("DELETE FROM items WHERE id = 2")
        try await b.engine.refresh()
        for db in [a, b] {
            let rows = try await db.query("SELECT id, name, qty FROM items ORDER BY id").map(\.description)
            #expect(rows == ["1|apple|13", "3|fig|1"])
        }

        let c = try await Database.open(url)
        var seen: [String] = []
        var versions: [UInt64] = []
        for try await change in c.changes(since: 0, pollInterval: .milliseconds(20)) {
            let id = change.values[0].text ?? "?"
            seen.append("\(change.table) \(change.operation.rawValue) \(id) \(change.values.map { $0.text ?? "NULL" }.joined(separator: ","))")
            versions.append(change.seq)
            if seen.count == 5 { break }
        }
        #expect(seen == [
            "items insert 1 1,apple,3", "items insert 2 2,pear,5", "items update 1 1,apple,13", "items insert 3 3,fig,1",
            "items delete 2 2,pear,5",
        ])
        #expect(versions == versions.sorted() && versions.first! > 1)

        // A change committed after the consumer started waiting arrives too.
        let waiter = Task {
            for try await change in c.changes(since: c.version, pollInterval: .milliseconds(20)) {
                return "\(change.operation.rawValue) \(change.values[1].text ?? "")"
            }
            return "cancelled"
        }
        try await Task.sleep(for: .milliseconds(100))
        try await b.execute("INSERT INTO items VALUES (4, 'kiwi', 2)")
        #expect(try await waiter.value == "insert kiwi")
        for db in [a, b, c] { await db.close() }
    }
}
