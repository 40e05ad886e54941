// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "Strata",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "StrataStore", targets: ["StrataStore"]),
        .library(name: "StrataEngine", targets: ["StrataEngine"]),
        .library(name: "StrataSQL", targets: ["StrataSQL"]),
        .library(name: "StrataSLT", targets: ["StrataSLT"]),
        .library(name: "Strata", targets: ["Strata"]),
        .library(name: "StrataServer", targets: ["StrataServer"]),
        .executable(name: "strata", targets: ["StrataCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
        // Only for a test: PostgresNIO as a client of `strata serve`.
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        .target(name: "CStrataSupport"),
        .target(
            name: "StrataStore",
            dependencies: [
                "CStrataSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "StrataEngine",
            dependencies: [
                "StrataStore", "CStrataSupport", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .target(
            name: "StrataSQL",
            dependencies: [
                "StrataEngine", "StrataStore", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ]
        ),
        .target(name: "Strata", dependencies: ["StrataSQL", "StrataEngine", "StrataStore"]),
        .target(
            name: "StrataServer",
            dependencies: [
                "StrataSQL", "StrataEngine", .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"), .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        .target(
            name: "StrataLocalServers",
            dependencies: [
                "StrataStore", .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .target(name: "StrataSLT", dependencies: [.product(name: "Crypto", package: "swift-crypto")]),
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite"),
        .executableTarget(
            name: "StrataCLI",
            dependencies: [
                "Strata", "StrataStore", "StrataEngine", "StrataSQL", "StrataSLT", "CSQLite", "StrataLocalServers", "StrataServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "StrataStoreTests",
            dependencies: ["StrataStore", "StrataLocalServers", .product(name: "PropertyBased", package: "swift-property-based")]
        ),
        .testTarget(name: "StrataTests", dependencies: ["Strata", "StrataLocalServers"]),
        .testTarget(
            name: "StrataServerTests",
            dependencies: [
                "StrataServer", "StrataEngine", "StrataStore", "StrataLocalServers",
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
        .testTarget(name: "StrataSLTTests", dependencies: ["StrataSLT", "CSQLite"]),
        .testTarget(
            name: "StrataSQLTests",
            dependencies: ["StrataSQL", "StrataSLT", "StrataStore", "CSQLite", .product(name: "PropertyBased", package: "swift-property-based")]
        ),
        .testTarget(
            name: "StrataEngineTests",
            dependencies: [
                "StrataEngine", "StrataStore", "StrataCLI", "StrataLocalServers",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
