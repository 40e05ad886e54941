extension Parser {
    /// After `CREATE ROLE` / `CREATE USER`: the name and options.
    mutating func createRoleStatement(isUser: Bool) throws -> Statement {
        let name = try identifier()
        var options = try roleOptions()
        if isUser && options.login == nil { options.login = true }
        return .createRole(name, options)
    }

    /// After `ALTER ROLE` / `ALTER USER`: options, or `RENAME TO`.
    mutating func alterRoleStatement() throws -> Statement {
        let name = try identifier()
        if accept("rename") {
            try expect("to")
            return .renameRole(name, to: try identifier())
        }
        if check("set") || check("reset") {
            // Per-role defaults for settings are not kept; accepted so dumps and tools run.
            while current.kind != .end && !check(";") { advance() }
            return .noOp("ALTER ROLE")
        }
        return .alterRole(name, try roleOptions())
    }

    /// `[WITH] option ...` of CREATE and ALTER ROLE. Options about privileges Strata does
    /// not have (CREATEDB, REPLICATION, ...) are accepted and have no effect.
    mutating func roleOptions() throws -> RoleOptions {
        var options = RoleOptions()
        _ = accept("with")
        while case .word(let w) = current.kind {
            switch w {
            case "login", "nologin":
                advance()
                options.login = w == "login"
            case "superuser", "nosuperuser":
                advance()
                options.superuser = w == "superuser"
            case "createdb", "nocreatedb", "createrole", "nocreaterole", "inherit", "noinherit", "replication",
                "noreplication", "bypassrls", "nobypassrls":
                advance()
            case "encrypted", "password":
                advance()
                if w == "encrypted" { try expect("password") }
                if accept("null") {
                    options.password = .some(nil)
                } else {
                    guard case .string(let text) = current.kind else { throw unexpected(expected: "a password string or NULL") }
                    advance()
                    options.password = .some(text)
                }
            case "connection":
                advance()
                try expect("limit")
                options.connectionLimit = try signedInteger()
            case "valid":
                advance()
                try expect("until")
                guard case .string = current.kind else { throw unexpected(expected: "a timestamp string") }
                advance()
            default:
                throw unexpected(expected: "a role option")
            }
        }
        return options
    }

    /// An integer literal, possibly negative.
    private mutating func signedInteger() throws -> Int {
        let negative = accept("-")
        guard case .integer(let digits) = current.kind, let n = Int(digits) else { throw unexpected(expected: "an integer") }
        advance()
        return negative ? -n : n
    }
}
