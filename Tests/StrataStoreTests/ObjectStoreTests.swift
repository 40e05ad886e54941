import Foundation
import Testing
import StrataLocalServers
import StrataStore

/// The same contract, checked on every backend: S3 on a real moto server.
enum Backend: String, CaseIterable, CustomTestStringConvertible {
    case memory, directory, s3
    var testDescription: String { rawValue }

    func make() async throws -> any ObjectStore {
        switch self {
        case .memory: return MemoryStore()
        case .directory:
            let path = NSTemporaryDirectory() + "strata-store-\(UUID().uuidString.prefix(8))"
            return try DirectoryStore(path: path)
        case .s3:
            return S3Store(try await MotoServer.shared().makeBucket())
        }
    }
}

func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

@Suite struct ObjectStoreTests {
    @Test(arguments: Backend.allCases) func putGetAndRanges(_ backend: Backend) async throws {
        let store = try await backend.make()
        try await store.put("a/b/c", bytes("hello world"))
        #expect(try await store.get("a/b/c") == bytes("hello world"))
        #expect(try await store.get("a/b/c", range: 6..<11) == bytes("world"))
        #expect(try await store.get("a/b/c", range: 6..<100) == bytes("world"))
        #expect(try await store.get("a/b/c", range: 50..<60) == [])
        try await store.put("a/b/c", bytes("replaced"))
        #expect(try await store.get("a/b/c") == bytes("replaced"))
        await #expect(throws: StoreError.notFound("missing")) { _ = try await store.get("missing") }
        await #expect(throws: StoreError.notFound("missing")) { _ = try await store.get("missing", range: 0..<1) }
        #expect(try await store.getIfPresent("missing") == nil)
        try await store.put("empty", [])
        #expect(try await store.get("empty") == [])
    }

    @Test(arguments: Backend.allCases) func putIfAbsentHasExactlyOneWinner(_ backend: Backend) async throws {
        let store = try await backend.make()
        let winners = await withTaskGroup(of: Bool.self) { group in
            for i in 0..<16 {
                group.addTask {
                    do {
                        try await store.putIfAbsent("log/1", bytes("writer \(i)"))
                        return true
                    } catch {
                        #expect(error as? StoreError == .alreadyExists("log/1"))
                        return false
                    }
                }
            }
            var n = 0
            for await w in group where w { n += 1 }
            return n
        }
        #expect(winners == 1)
        let stored = String(decoding: try await store.get("log/1"), as: UTF8.self)
        #expect(stored.hasPrefix("writer "))
        await #expect(throws: StoreError.alreadyExists("log/1")) { try await store.putIfAbsent("log/1", bytes("late")) }
    }

    @Test(arguments: Backend.allCases) func listPaginatesInKeyOrder(_ backend: Backend) async throws {
        let store = try await backend.make()
        let keys = (0..<25).map { "p/\(String(format: "%03d", $0))" } + ["p/sub/x", "q/1", "pz"]
        for k in keys.shuffled() { try await store.put(k, bytes(k)) }
        var seen: [String] = []
        var after: String? = nil
        var pages = 0
        repeat {
            let page = try await store.list(prefix: "p/", startAfter: after, limit: 7)
            #expect(page.objects.count <= 7)
            seen += page.objects.map(\.key)
            after = page.nextStartAfter
            pages += 1
        } while after != nil
        #expect(pages == 4)
        #expect(seen == (0..<25).map { "p/\(String(format: "%03d", $0))" } + ["p/sub/x"])
        let tail = try await store.list(prefix: "p/", startAfter: "p/020", limit: 100)
        #expect(tail.objects.map(\.key) == ["p/021", "p/022", "p/023", "p/024", "p/sub/x"])
        #expect(tail.objects.first?.size == 5)
        let all = try await store.listAll(prefix: "")
        #expect(all.count == keys.count)
        #expect(try await store.listAll(prefix: "p/0").count == 25)
    }

    @Test(arguments: Backend.allCases) func deleteIsIdempotent(_ backend: Backend) async throws {
        let store = try await backend.make()
        try await store.put("x", bytes("1"))
        try await store.delete("x")
        try await store.delete("x")
        #expect(try await store.getIfPresent("x") == nil)
        try await store.putIfAbsent("x", bytes("2"))
        #expect(try await store.get("x") == bytes("2"))
    }

    @Test(arguments: Backend.allCases) func badKeysAreRejected(_ backend: Backend) async throws {
        let store = try await backend.make()
        for key in ["", "/abs", "a//b", "a/../b", "a/./b", ".tmp/x", "with space", "tab\t", "ü"] {
            await #expect(throws: StoreError.self) { try await store.put(key, [1]) }
            await #expect(throws: StoreError.self) { _ = try await store.get(key) }
        }
    }

    @Test func directoryStoreLeavesNoTemporaryFilesAndSurvivesReopen() async throws {
        let path = NSTemporaryDirectory() + "strata-store-\(UUID().uuidString.prefix(8))"
        let store = try DirectoryStore(path: path)
        for i in 0..<20 { try await store.put("obj/\(i)", bytes("v\(i)")) }
        try await store.putIfAbsent("log/main/1", bytes("entry"))
        await #expect(throws: StoreError.self) { try await store.putIfAbsent("log/main/1", bytes("other")) }
        #expect(store.temporaryFiles().isEmpty)
        let again = try DirectoryStore(path: path)
        #expect(try await again.get("obj/7") == bytes("v7"))
        #expect(try await again.get("obj/7", range: 1..<2) == bytes("7"))
        #expect(try await again.get("log/main/1") == bytes("entry"))
    }

    @Test func abandonedTemporaryFilesOfDeadProcessesAreRemoved() async throws {
        let path = NSTemporaryDirectory() + "strata-store-\(UUID().uuidString.prefix(8))"
        _ = try DirectoryStore(path: path)
        // A process that no longer exists left a half-written file behind.
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/true")
        try child.run()
        child.waitUntilExit()
        let stale = path + "/.tmp/\(child.processIdentifier)-1"
        #expect(FileManager.default.createFile(atPath: stale, contents: Data([1, 2, 3])))
        let mine = path + "/.tmp/\(getpid())-999"
        #expect(FileManager.default.createFile(atPath: mine, contents: Data([1])))
        let store = try DirectoryStore(path: path)
        #expect(store.temporaryFiles() == ["\(getpid())-999"])
        #expect(try await store.listAll(prefix: "").isEmpty)
    }
}
