import PropertyBased
import StrataEngine
import StrataSQL
import Testing

func kinds(_ sql: String) throws -> [Token.Kind] { try Lexer.tokenize(sql).map(\.kind) }

@Suite struct LexerTests {
    @Test func wordsNumbersSymbolsAndParameters() throws {
        #expect(try kinds("SELECT a+b*2 FROM T1 WHERE x<=$1 AND y<>3.5e-2;") == [
            .word("select"), .word("a"), .symbol("+"), .word("b"), .symbol("*"), .integer("2"), .word("from"),
            .word("t1"), .word("where"), .word("x"), .symbol("<="), .parameter(1), .word("and"), .word("y"),
            .symbol("<>"), .decimal("3.5e-2"), .symbol(";"), .end,
        ])
        #expect(try kinds("x::int || 'a' != .5 1. 10E3 a.b[1]") == [
            .word("x"), .symbol("::"), .word("int"), .symbol("||"), .string("a"), .symbol("!="), .decimal(".5"),
            .decimal("1."), .decimal("10E3"), .word("a"), .symbol("."), .word("b"), .symbol("["), .integer("1"),
            .symbol("]"), .end,
        ])
        #expect(try kinds("j->>'k' j->'k' f(a => 1)") == [
            .word("j"), .symbol("->>"), .string("k"), .word("j"), .symbol("->"), .string("k"), .word("f"),
            .symbol("("), .word("a"), .symbol("=>"), .integer("1"), .symbol(")"), .end,
        ])
    }

    @Test func everyTwoCharacterOperatorIsOneToken() throws {
        let operators = ["::", "<=", ">=", "<>", "!=", "||", "->", "=>", ":=", "<<", ">>", "@>", "<@", "&&", "!~", "~*"]
        for op in operators {
            #expect(try kinds("a\(op)b") == [.word("a"), .symbol(op), .word("b"), .end], "\(op)")
        }
        // Pairs that are not operators stay two symbols.
        #expect(try kinds("a=-b (*)") == [.word("a"), .symbol("="), .symbol("-"), .word("b"), .symbol("("), .symbol("*"), .symbol(")"), .end])
    }

    @Test func identifiersFoldUnlessQuoted() throws {
        #expect(try kinds(#"Foo "Foo" "a""b" über _x$1"#) == [
            .word("foo"), .quotedIdentifier("Foo"), .quotedIdentifier("a\"b"), .word("über"), .word("_x$1"), .end,
        ])
        let long = String(repeating: "a", count: 70)
        #expect(try kinds(long) == [.word(String(repeating: "a", count: 63)), .end])
    }

    @Test func stringConstants() throws {
        #expect(try kinds("'it''s' E'a\\nb\\t\\'c\\\\' e'\\x41\\101\\u00e9'") == [
            .string("it's"), .string("a\nb\t'c\\"), .string("AAé"), .end,
        ])
        #expect(try kinds("'a'\n  'b' 'c' 'd'") == [.string("ab"), .string("c"), .string("d"), .end])
        #expect(try kinds("$$it's $1$$ $tag$a$$b$tag$") == [.string("it's $1"), .string("a$$b"), .end])
        #expect(try kinds("''") == [.string(""), .end])
    }

    @Test func commentsNest() throws {
        #expect(try kinds("a -- comment\n/* outer /* inner */ still */ b") == [.word("a"), .word("b"), .end])
        #expect(try kinds("a--b") == [.word("a"), .end])
        #expect(try kinds("a-/**/-b") == [.word("a"), .symbol("-"), .symbol("-"), .word("b"), .end])
    }

    @Test func errorsPointAtLineAndColumnWith42601() {
        func failure(_ sql: String) -> SQLError? {
            do {
                _ = try Lexer.tokenize(sql)
                return nil
            } catch {
                return error as? SQLError
            }
        }
        let e = failure("SELECT 1,\n  'never closed")
        #expect(e?.code == SQLError.syntaxError && e?.sqlState == "42601")
        #expect(e?.location == SourceLocation(line: 2, column: 3, offset: 12))
        #expect(failure("/* open /* nested */")?.message == "unterminated /* comment")
        #expect(failure("\"\"")?.message == "zero-length delimited identifier")
        #expect(failure("\"open")?.message == "unterminated quoted identifier")
        #expect(failure("$a$ no end")?.message == "unterminated dollar-quoted string")
        #expect(failure("SELECT 123abc")?.message.hasPrefix("trailing junk after numeric literal") == true)
        #expect(failure("SELECT `x`")?.location?.column == 8)
        #expect(failure("$0")?.message == "parameter number out of range: $0")
        #expect(failure("E'\\u12'")?.code == SQLError.invalidEscape)
        #expect(failure("E'\\000'")?.code == SQLError.invalidEscape)
        // Codes match in `catch` clauses, as the engine's do.
        do {
            _ = try Lexer.tokenize("'open")
        } catch SQLError.syntaxError {
        } catch {
            Issue.record("a syntax error did not match SQLError.syntaxError")
        }
        // Columns count characters, not bytes.
        #expect(failure("'é' `")?.location == SourceLocation(line: 1, column: 5, offset: 5))
    }

    /// Words, integers and quoted strings survive a render-and-lex round trip.
    @Test func renderedTokensLexBack() async {
        let token = Gen<Token.Kind>.oneOf(
            Gen.lowercaseLetter.string(of: 1...8).map { Token.Kind.word($0) },
            Gen.int(in: 0...Int.max).map { Token.Kind.integer(String($0)) },
            Gen.letterOrNumber.string(of: 0...8).map { Token.Kind.string($0 + "'x") })
        await propertyCheck(input: token.array(of: 0...20)) { tokens in
            let sql = tokens.map { t -> String in
                switch t {
                case .word(let w): return w
                case .integer(let i): return i
                case .string(let s): return "'" + s.replacingOccurrences(of: "'", with: "''") + "'"
                default: return ""
                }
            }.joined(separator: " ")
            #expect((try? kinds(sql)) == tokens + [.end])
        }
    }

    /// Arbitrary bytes never crash the lexer: they lex or fail with a located SQLError.
    @Test func garbageNeverCrashes() async {
        let alphabet = Array("SELECT'\"$-/*e\\x1.9 \n\tabc_()é;:<>=|".unicodeScalars)
        await propertyCheck(count: 2000, input: Gen.int(in: 0..<alphabet.count).array(of: 0...40)) { picks in
            let sql = String(String.UnicodeScalarView(picks.map { alphabet[$0] }))
            do {
                let tokens = try Lexer.tokenize(sql)
                #expect(tokens.last?.kind == .end)
            } catch let e as SQLError {
                #expect(e.location != nil)
            } catch {
                Issue.record("unexpected error type \(error)")
            }
        }
    }
}
