package relational

// The tables of the public "Tool Usage - Relational Data" benchmark task
// (langchain-benchmarks, MIT), written out as Go values. They are built by
// functions so that no package-level value can be changed by a caller.

type user struct {
	ID            int
	Name          string
	Email         string
	Location      int
	FavoriteColor string
	FavoriteFoods []int
}

type location struct {
	ID             int
	City           string
	CurrentTime    string
	CurrentWeather string
}

type food struct {
	ID                  int
	Name                string
	Calories            int
	AllergicIngredients []string
}

// currentUserID is what get_current_user_id answers (the user Charlie).
const currentUserID = 35

func users() []user {
	return []user{
		{1, "Alice", "alice@gmail.com", 1, "red", []int{1, 2, 3}},
		{21, "Bob", "bob@hotmail.com", 2, "orange", []int{4, 5, 6}},
		{35, "Charlie", "charlie@yahoo.com", 3, "yellow", []int{3, 7, 2}},
		{41, "Donna", "donna@example.com", 4, "green", []int{6, 1, 4}},
		{42, "Eve", "eve@example.org", 5, "blue", []int{5, 7, 4}},
		{43, "Frank The Cat", "frank.the.cat@langchain.dev", 5, "yellow", []int{3}},
	}
}

func locations() []location {
	return []location{
		{1, "New York", "2023-11-14 10:30 AM", "Partly Cloudy, Temperature: 68°F"},
		{2, "Los Angeles", "2023-11-14 7:45 AM", "Sunny, Temperature: 75°F"},
		{3, "Chicago", "2023-11-14 11:15 AM", "Mostly Cloudy, Temperature: 60°F"},
		{4, "Houston", "2023-11-14 12:00 PM", "Rainy, Temperature: 55°F"},
		{5, "Miami", "2023-11-14 1:20 PM", "Partly Cloudy, Temperature: 80°F"},
	}
}

func foods() []food {
	return []food{
		{1, "Pizza", 285, []string{"Gluten", "Dairy"}},
		{2, "Chocolate", 50, []string{"Milk", "Soy"}},
		{3, "Sushi", 300, []string{"Fish", "Soy"}},
		{4, "Burger", 350, []string{"Gluten", "Dairy"}},
		{5, "Ice Cream", 200, []string{"Dairy"}},
		{6, "Pasta", 180, []string{"Gluten"}},
		{7, "Salad", 50, []string{}},
	}
}
