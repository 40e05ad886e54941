import Foundation
import Testing
import StrataStore

@Suite struct FaultInjectingStoreTests {
    @Test func failRulesMatchOperationPrefixSkipAndTimes() async throws {
        let store = FaultInjectingStore(MemoryStore())
        store.add(.init([.put], keyPrefix: "obj/", action: .fail(.transient("boom")), skip: 1, times: 2))
        try await store.put("obj/1", [1])
        await #expect(throws: StoreError.transient("boom")) { try await store.put("obj/2", [2]) }
        try await store.put("log/1", [1])
        await #expect(throws: StoreError.transient("boom")) { try await store.put("obj/3", [3]) }
        try await store.put("obj/4", [4])
        #expect(try await store.getIfPresent("obj/2") == nil)
        #expect(try await store.get("obj/4") == [4])
    }

    @Test func lostResponseStillWrites() async throws {
        let store = FaultInjectingStore(MemoryStore())
        store.add(.init([.putIfAbsent], action: .loseResponse, times: 1))
        await #expect(throws: StoreError.transient("response lost (fault injection): k")) { try await store.putIfAbsent("k", [9]) }
        #expect(try await store.get("k") == [9])
    }

    @Test func delaySlowsTheOperation() async throws {
        let store = FaultInjectingStore(MemoryStore())
        store.add(.init([.get], action: .delay(.milliseconds(50))))
        try await store.put("k", [1])
        let start = ContinuousClock.now
        _ = try await store.get("k")
        #expect(ContinuousClock.now - start >= .milliseconds(50))
    }

    @Test func crashStopsEverythingAndLeavesAPartialTemporaryFile() async throws {
        let path = NSTemporaryDirectory() + "strata-fault-\(UUID().uuidString.prefix(8))"
        let dir = try DirectoryStore(path: path)
        let store = FaultInjectingStore(dir)
        store.crash(afterWrites: 2)
        try await store.put("a", [1])
        try await store.putIfAbsent("b", [2])
        await #expect(throws: StoreError.self) { try await store.put("c", [UInt8](repeating: 7, count: 100)) }
        #expect(store.hasCrashed)
        await #expect(throws: StoreError.self) { _ = try await store.get("a") }
        #expect(dir.temporaryFiles().count == 1)
        // What was written before the crash is whole; the crashed write is absent.
        #expect(try await dir.get("a") == [1])
        #expect(try await dir.get("b") == [2])
        #expect(try await dir.getIfPresent("c") == nil)
    }
}
