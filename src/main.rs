fn main() {
    println!("mlci");
}
