import Foundation
import Testing
@testable import StrataStore

@Suite struct LogJournalTests {
    func logKey(_ n: UInt64, branch: String = "main") -> String { "log/\(branch)/" + n.paddedKeyName }

    func freshPath() -> String { NSTemporaryDirectory() + "strata-journal-\(UUID().uuidString.prefix(8))" }

    @Test func appendsReadBackAndListInOrder() async throws {
        let path = freshPath()
        let store = try DirectoryStore(path: path)
        for n in 1...30 as ClosedRange<UInt64> { try await store.putIfAbsent(logKey(n), bytes("entry \(n)")) }
        try await store.putIfAbsent(logKey(1, branch: "dev"), bytes("dev 1"))
        for n in 1...30 as ClosedRange<UInt64> { #expect(try await store.get(logKey(n)) == bytes("entry \(n)")) }
        #expect(try await store.get(logKey(7), range: 6..<7) == bytes("7"))
        await #expect(throws: StoreError.notFound(logKey(31))) { _ = try await store.get(logKey(31)) }
        let listed = try await store.listAll(prefix: "log/main/")
        #expect(listed.map(\.key) == (1...30).map { logKey($0) })
        #expect(listed[9].size == "entry 10".utf8.count)
        let page = try await store.list(prefix: "log/", startAfter: logKey(28), limit: 2)
        #expect(page.objects.map(\.key) == [logKey(29), logKey(30)])
        #expect(page.nextStartAfter == nil, "nothing follows, so the listing is complete")
        #expect(try await store.list(prefix: "log/", startAfter: logKey(30), limit: 2).objects.map(\.key) == [])
        #expect(try await store.listAll(prefix: "log/dev/").map(\.key) == [logKey(1, branch: "dev")])
        // One journal file per branch, no file per entry.
        let files = try FileManager.default.contentsOfDirectory(atPath: path + "/log/main").sorted()
        #expect(files == [".journal", ".journal-index"])
        // A new instance (another process) reads the same entries.
        let again = try DirectoryStore(path: path)
        #expect(try await again.get(logKey(30)) == bytes("entry 30"))
    }

    @Test func exactlyOneWriterWinsEachEntryAcrossInstances() async throws {
        let path = freshPath()
        // Separate instances hold separate open file descriptions: flock excludes them as it would processes.
        let stores = try (0..<4).map { _ in try DirectoryStore(path: path) }
        for n in 1...20 as ClosedRange<UInt64> {
            let winners = await withTaskGroup(of: Int?.self) { group in
                for (i, store) in stores.enumerated() {
                    for t in 0..<3 {
                        group.addTask {
                            do {
                                try await store.putIfAbsent(logKey(n), bytes("writer \(i)-\(t) entry \(n)"))
                                return i * 10 + t
                            } catch {
                                #expect(error as? StoreError == .alreadyExists(logKey(n)))
                                return nil
                            }
                        }
                    }
                }
                return await group.reduce(into: [Int]()) { if let w = $1 { $0.append(w) } }
            }
            #expect(winners.count == 1)
            let w = winners[0]
            for store in stores {
                #expect(try await store.get(logKey(n)) == bytes("writer \(w / 10)-\(w % 10) entry \(n)"))
            }
        }
    }

    @Test func entriesMustBeAppendedInOrder() async throws {
        let store = try DirectoryStore(path: freshPath())
        await #expect(throws: StoreError.preconditionFailed("\(logKey(2)): entry 1 must exist first")) {
            try await store.putIfAbsent(logKey(2), bytes("x"))
        }
        try await store.putIfAbsent(logKey(1), bytes("a"))
        await #expect(throws: StoreError.alreadyExists(logKey(1))) { try await store.putIfAbsent(logKey(1), bytes("b")) }
        await #expect(throws: StoreError.self) { try await store.put(logKey(1), bytes("c")) }
        await #expect(throws: StoreError.self) { try await store.delete(logKey(1)) }
        #expect(try await store.get(logKey(1)) == bytes("a"))
        // Names that are not 20-digit sequence numbers are ordinary files.
        try await store.put("log/main/notes", bytes("n"))
        #expect(try await store.get("log/main/notes") == bytes("n"))
    }

    @Test func aTornTailIsIgnoredThenTruncatedByTheNextWriter() async throws {
        let path = freshPath()
        let store = try DirectoryStore(path: path)
        for n in 1...3 as ClosedRange<UInt64> { try await store.putIfAbsent(logKey(n), bytes("entry \(n)")) }
        // A writer dies half way through appending entry 4.
        try store.simulateCrash(writing: logKey(4), [UInt8](repeating: 9, count: 200))
        let other = try DirectoryStore(path: path)
        await #expect(throws: StoreError.notFound(logKey(4))) { _ = try await other.get(logKey(4)) }
        #expect(try await other.listAll(prefix: "log/main/").count == 3)
        try await other.putIfAbsent(logKey(4), bytes("entry 4"))
        try await other.putIfAbsent(logKey(5), bytes("entry 5"))
        for n in 1...5 as ClosedRange<UInt64> { #expect(try await store.get(logKey(n)) == bytes("entry \(n)")) }
        let journal = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path + "/log/main/.journal")))
        let records = (1...5).flatMap { LogJournal.record(UInt64($0), bytes("entry \($0)")) }
        #expect(Array(journal.prefix(records.count)) == records)
        #expect(journal.dropFirst(records.count).allSatisfy { $0 == 0 }, "the torn record was not erased")
        #expect(journal.count % LogJournal.growth == 0, "the journal grows in preallocated steps")
    }

    @Test func aLostOrDamagedIndexIsRebuiltFromTheJournal() async throws {
        let path = freshPath()
        let store = try DirectoryStore(path: path)
        for n in 1...10 as ClosedRange<UInt64> { try await store.putIfAbsent(logKey(n), bytes("entry \(n)")) }
        // Lose the index's tail (as after a crash between journal and index writes) and damage an entry.
        let index = path + "/log/main/.journal-index"
        var data = try Data(contentsOf: URL(fileURLWithPath: index))
        data = data.prefix(5 * 8)
        data[3 * 8] ^= 0x55
        try data.write(to: URL(fileURLWithPath: index))
        let other = try DirectoryStore(path: path)
        for n in 1...10 as ClosedRange<UInt64> { #expect(try await other.get(logKey(n)) == bytes("entry \(n)")) }
        try await other.putIfAbsent(logKey(11), bytes("entry 11"))
        #expect(try await other.listAll(prefix: "log/main/").count == 11)
        #expect(try Data(contentsOf: URL(fileURLWithPath: index)).count == 11 * 8)
    }
}

@Suite struct LogJournalDamageTests {
    /// A damaged record in the middle is an error that names the entry, for readers and
    /// writers alike; the entries after it are never truncated away.
    @Test func damageInTheMiddleIsAnErrorNotATornTail() async throws {
        let path = NSTemporaryDirectory() + "strata-journal-\(UUID().uuidString.prefix(8))"
        let store = try DirectoryStore(path: path)
        let key = { (n: UInt64) in "log/main/" + n.paddedKeyName }
        for n in 1...6 as ClosedRange<UInt64> { try await store.putIfAbsent(key(n), bytes("entry \(n)")) }
        let file = path + "/log/main/.journal"
        var data = try Data(contentsOf: URL(fileURLWithPath: file))
        let size = data.count
        let third = (1...2).reduce(0) { $0 + LogJournal.record(UInt64($1), bytes("entry \($1)")).count }
        data[third + 18] ^= 0x04
        try data.write(to: URL(fileURLWithPath: file))
        try FileManager.default.removeItem(atPath: path + "/log/main/.journal-index")
        let other = try DirectoryStore(path: path)
        #expect(try await other.get(key(2)) == bytes("entry 2"))
        do {
            _ = try await other.listAll(prefix: "log/main/")
            Issue.record("listing past a damaged record must fail")
        } catch let e as StoreError {
            #expect(e.description.contains(key(3)))
        }
        await #expect(throws: StoreError.self) { try await other.putIfAbsent(key(7), bytes("entry 7")) }
        #expect(try Data(contentsOf: URL(fileURLWithPath: file)).count == size)
    }
}
